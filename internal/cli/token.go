package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/mutate"
	"github.com/irsa-dev/irsa/internal/oidc"
	"github.com/irsa-dev/irsa/internal/token"
)

// NewTokenCommand returns `irsa token`, checks on ServiceAccount tokens.
func NewTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Check ServiceAccount tokens as AWS STS does",
	}
	cmd.AddCommand(newTokenVerifyCommand())
	return cmd
}

// tokenVerifyOptions are the flags of `irsa token verify`.
type tokenVerifyOptions struct {
	TokenFile  string
	Audience   string
	Issuer     string
	KeySetFile string
	Output     string
}

func newTokenVerifyCommand() *cobra.Command {
	opts := tokenVerifyOptions{Audience: mutate.DefaultAudience, Output: "text"}
	cmd := &cobra.Command{
		Use:   "verify --token-file FILE [--audience AUD] [--issuer URL] [--jwks-file FILE]",
		Short: "Verify a ServiceAccount token the way AWS STS does",
		Long: `Verify a token as AWS STS does before it hands out credentials: fetch the
issuer's discovery document and key set, check the signature with the key
named by the token's key id, then iss, aud, exp and nbf. On failure the error
names the check (malformed, discovery, keyset, key-id, algorithm, signature,
issuer, audience, expired, not-yet-valid) and what to change.

Without --issuer the token's own iss is where discovery starts. With
--jwks-file nothing is fetched: the token is checked against that key set
(as printed by irsa oidc keys), and against --issuer if given.`,
		Example: `  kubectl exec deploy/app -- cat /var/run/secrets/eks.amazonaws.com/serviceaccount/token \
    | irsa token verify --token-file - --issuer https://oidc.example.com/cluster`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenVerify(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.TokenFile, "token-file", "", `file holding the token ("-" for standard input)`)
	f.StringVar(&opts.Audience, "audience", opts.Audience, "audience the token must be for")
	f.StringVar(&opts.Issuer, "issuer", "", "expected issuer (default: the token's iss)")
	f.StringVar(&opts.KeySetFile, "jwks-file", "", "verify against this JSON Web Key Set instead of the issuer's")
	f.StringVarP(&opts.Output, "output", "o", opts.Output, "text or json")
	_ = cmd.MarkFlagRequired("token-file")
	return cmd
}

func runTokenVerify(cmd *cobra.Command, opts tokenVerifyOptions) error {
	if opts.Output != "text" && opts.Output != "json" {
		return fmt.Errorf("--output %q: want text or json", opts.Output)
	}
	var raw []byte
	var err error
	if opts.TokenFile == "-" {
		raw, err = io.ReadAll(cmd.InOrStdin())
	} else {
		raw, err = os.ReadFile(opts.TokenFile)
	}
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	verify := token.Options{Audience: opts.Audience, Issuer: opts.Issuer}
	if opts.KeySetFile != "" {
		data, err := os.ReadFile(opts.KeySetFile)
		if err != nil {
			return fmt.Errorf("--jwks-file: %w", err)
		}
		if verify.KeySet, err = oidc.ParseKeySet(data); err != nil {
			return fmt.Errorf("--jwks-file %s: %w", opts.KeySetFile, err)
		}
	}
	claims, err := token.Verify(cmd.Context(), strings.TrimSpace(string(raw)), verify)
	if err != nil {
		return fmt.Errorf("token verify: %w", err)
	}
	if opts.Output == "json" {
		return printJSON(cmd.OutOrStdout(), claims)
	}
	return printClaims(cmd.OutOrStdout(), claims)
}

func printClaims(w io.Writer, c *token.Claims) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "token verified")
	fmt.Fprintf(tw, "issuer:\t%s\n", c.Issuer)
	fmt.Fprintf(tw, "subject:\t%s\n", c.Subject)
	fmt.Fprintf(tw, "audience:\t%s\n", strings.Join(c.Audience, ", "))
	fmt.Fprintf(tw, "expires:\t%s (in %s)\n", c.Expiry.UTC().Format(time.RFC3339), time.Until(c.Expiry).Round(time.Second))
	fmt.Fprintf(tw, "kid:\t%s (%s)\n", c.KeyID, c.Algorithm)
	return tw.Flush()
}
