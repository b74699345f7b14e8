package cli

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/oidc"
)

// NewOIDCCommand returns `irsa oidc`, the issuer documents.
func NewOIDCCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oidc",
		Short: "Build the documents of the cluster's OIDC issuer",
	}
	cmd.AddCommand(newOIDCKeysCommand(), newOIDCDiscoveryCommand(), newOIDCPublishCommand())
	return cmd
}

func newOIDCKeysCommand() *cobra.Command {
	var src keySource
	var opts oidc.KeySetOptions
	cmd := &cobra.Command{
		Use:   "keys (--public-key FILE ... | --from-cluster)",
		Short: "Print the JSON Web Key Set (keys.json) for the ServiceAccount signing keys",
		Long: `Print the JSON Web Key Set that publishes the cluster's ServiceAccount signing
keys, with key ids exactly as kube-apiserver computes them. Give every current
and next key, so tokens keep verifying through a rotation. Files may hold
public keys, certificates or private keys (RSA or ECDSA), in PEM.
--from-cluster reads the keys the live cluster serves instead (or as well).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := src.load(cmd.Context(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			set, err := oidc.KeySet(keys, opts)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), set)
		},
	}
	src.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&opts.LegacyEmptyKeyID, "legacy-empty-kid", false, `also publish each key with "kid": "", for tokens from Kubernetes before 1.16`)
	return cmd
}

func newOIDCDiscoveryCommand() *cobra.Command {
	var issuer string
	var src keySource
	cmd := &cobra.Command{
		Use:   "discovery --issuer URL [--public-key FILE ... | --from-cluster]",
		Short: "Print the discovery document (.well-known/openid-configuration)",
		Long: `Print the OpenID discovery document for the issuer. The issuer must be https,
without a port, query, fragment or trailing slash: AWS compares it byte for byte
with the tokens' iss, the IAM identity provider and trust policies. The signing
algorithms listed come from the keys (RS256 without any).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var keys []crypto.PublicKey
			if len(src.files) > 0 || src.fromCluster {
				var err error
				if keys, err = src.load(cmd.Context(), cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			d, err := oidc.NewDiscovery(issuer, keys)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), d)
		},
	}
	cmd.Flags().StringVar(&issuer, "issuer", "", "issuer URL, as in --service-account-issuer")
	src.addFlags(cmd.Flags())
	_ = cmd.MarkFlagRequired("issuer")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}
