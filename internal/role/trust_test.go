package role

import (
	"strings"
	"testing"
)

func TestMergeTrust(t *testing.T) {
	const provider = "arn:aws:iam::123456789012:oidc-provider/irsa.test/cluster"
	const other = "arn:aws:iam::123456789012:oidc-provider/oidc.other.example.com/c2"
	ours := string(TrustStatement(provider, "https://irsa.test/cluster", "sts.amazonaws.com", "payments", "api"))
	for _, tc := range []struct {
		name, current, want      string
		replaced, narrowed, kept int
	}{
		{name: "new role", want: `{"Version":"2012-10-17","Statement":[` + ours + `]}`},
		{
			name:    "a lone statement object of another service",
			current: `{"Version":"2012-10-17","Id":"x","Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
			want:    `{"Version":"2012-10-17","Id":"x","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"},` + ours + `]}`,
			kept:    1,
		},
		{
			name: "irsa's own statement for another ServiceAccount, by Sid",
			current: `{"Version":"2012-10-17","Statement":[` +
				string(TrustStatement(provider, "https://irsa.test/cluster", "sts.amazonaws.com", "payments", "old")) + `]}`,
			want:     `{"Version":"2012-10-17","Statement":[` + ours + `]}`,
			replaced: 1,
		},
		{
			name: "this provider among others in one statement",
			current: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":["` + provider + `","` + other + `"]},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"irsa.test/cluster:sub":"*"}}}]}`,
			want: `{"Version":"2012-10-17","Statement":[` + ours + `,{"Effect":"Allow","Principal":{"Federated":"` + other + `"},
				"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"irsa.test/cluster:sub":"*"}}}]}`,
			narrowed: 1,
		},
		{
			name: "a deny is kept",
			current: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"irsa.test/cluster:sub":"system:serviceaccount:payments:batch"}}}]}`,
			want: `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"irsa.test/cluster:sub":"system:serviceaccount:payments:batch"}}},` + ours + `]}`,
			kept: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mergeTrust(tc.current, provider, []byte(ours))
			if err != nil {
				t.Fatal(err)
			}
			wantPolicy(t, "merged", m.Document, tc.want)
			if m.Replaced != tc.replaced || m.Narrowed != tc.narrowed || m.Kept != tc.kept {
				t.Errorf("replaced %d, narrowed %d, kept %d; want %d, %d, %d", m.Replaced, m.Narrowed, m.Kept, tc.replaced, tc.narrowed, tc.kept)
			}
			if strings.ContainsAny(m.Document, " \n\t") {
				t.Errorf("not compact: %s", m.Document)
			}
			again, err := mergeTrust(m.Document, provider, []byte(ours))
			if err != nil || again.Document != m.Document {
				t.Errorf("merging again: %v\n%s\nwant\n%s", err, again.Document, m.Document)
			}
		})
	}
	if _, err := mergeTrust(`{"Statement":"nope"}`, provider, []byte(ours)); err == nil {
		t.Error("a Statement that is a string is accepted")
	}
}

func TestDecodePolicy(t *testing.T) {
	// IAM sends documents URL-encoded; a "+" stays a plus.
	got, err := decodePolicy("%7B%22Sid%22%3A%22a%2Bb%22%2C%22x%22%3A%22c+d%22%7D")
	if err != nil || got != `{"Sid":"a+b","x":"c+d"}` {
		t.Errorf("decodePolicy = %q, %v", got, err)
	}
	if got, _ := decodePolicy(`{"a":"100%"}`); got != `{"a":"100%"}` {
		t.Errorf("plain JSON changed: %q", got)
	}
}

func TestCheckTrustSize(t *testing.T) {
	if w, err := checkTrustSize(1843); w != "" || err != nil {
		t.Errorf("90%%: %q, %v", w, err)
	}
	if w, err := checkTrustSize(1844); !strings.Contains(w, "1844 of the 2048 characters") || err != nil {
		t.Errorf("past 90%%: %q, %v", w, err)
	}
	if _, err := checkTrustSize(2048); err != nil {
		t.Errorf("at the quota: %v", err)
	}
	if _, err := checkTrustSize(2049); err == nil || !strings.Contains(err.Error(), "2049 characters, the quota is 2048") {
		t.Errorf("past the quota: %v", err)
	}
}
