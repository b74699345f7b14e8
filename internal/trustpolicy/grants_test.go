package trustpolicy

import (
	"reflect"
	"testing"
)

func TestGrants(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Sid":"IrsaWebIdentity1","Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/a.example.com"},"Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringEquals":{"a.example.com:sub":"system:serviceaccount:shop:cart","a.example.com:aud":"sts.amazonaws.com"}}},
	 {"Effect":"Allow","Principal":{"Federated":["arn:aws:iam::1:oidc-provider/b.example.com"]},"Action":"sts:AssumeRoleWithWebIdentity",
	  "Condition":{"StringLike":{"b.example.com:sub":"system:serviceaccount:shop:*"},"StringEquals":{"b.example.com:amr":"x"}}},
	 {"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	got, err := Grants(policy)
	if err != nil {
		t.Fatal(err)
	}
	want := []Grant{
		{Sid: "IrsaWebIdentity1", Effect: "Allow", Providers: []string{"arn:aws:iam::1:oidc-provider/a.example.com"},
			Subjects: []string{"StringEquals system:serviceaccount:shop:cart"}, Audiences: []string{"StringEquals sts.amazonaws.com"}},
		{Effect: "Allow", Providers: []string{"arn:aws:iam::1:oidc-provider/b.example.com"},
			Subjects: []string{"StringLike system:serviceaccount:shop:*"}, Others: []string{"StringEquals b.example.com:amr x"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Grants =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := Grants("not json"); err == nil {
		t.Error("invalid policy accepted")
	}
}
