package cli

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/irsa-dev/irsa/internal/oidc"
)

// NewOIDCCommand returns `irsa oidc`, the issuer documents.
func NewOIDCCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oidc",
		Short: "Build the documents of the cluster's OIDC issuer",
	}
	cmd.AddCommand(newOIDCKeysCommand(), newOIDCDiscoveryCommand())
	return cmd
}

func newOIDCKeysCommand() *cobra.Command {
	var files []string
	var opts oidc.KeySetOptions
	cmd := &cobra.Command{
		Use:   "keys --public-key FILE [--public-key FILE ...]",
		Short: "Print the JSON Web Key Set (keys.json) for the ServiceAccount signing keys",
		Long: `Print the JSON Web Key Set that publishes the cluster's ServiceAccount signing
keys, with key ids exactly as kube-apiserver computes them. Give every current
and next key, so tokens keep verifying through a rotation. Files may hold
public keys, certificates or private keys (RSA or ECDSA), in PEM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := readKeyFiles(files)
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
	cmd.Flags().StringArrayVar(&files, "public-key", nil, "PEM file with signing keys (repeatable)")
	cmd.Flags().BoolVar(&opts.LegacyEmptyKeyID, "legacy-empty-kid", false, `also publish each key with "kid": "", for tokens from Kubernetes before 1.16`)
	_ = cmd.MarkFlagRequired("public-key")
	return cmd
}

func newOIDCDiscoveryCommand() *cobra.Command {
	var issuer string
	var files []string
	cmd := &cobra.Command{
		Use:   "discovery --issuer URL [--public-key FILE ...]",
		Short: "Print the discovery document (.well-known/openid-configuration)",
		Long: `Print the OpenID discovery document for the issuer. The issuer must be https,
without a port, query, fragment or trailing slash: AWS compares it byte for byte
with the tokens' iss, the IAM identity provider and trust policies. The signing
algorithms listed come from --public-key (RS256 without one).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var keys []crypto.PublicKey
			if len(files) > 0 {
				var err error
				if keys, err = readKeyFiles(files); err != nil {
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
	cmd.Flags().StringArrayVar(&files, "public-key", nil, "PEM file with signing keys (repeatable)")
	_ = cmd.MarkFlagRequired("issuer")
	return cmd
}

func readKeyFiles(files []string) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--public-key: %w", err)
		}
		k, err := oidc.ParsePublicKeys(data)
		if err != nil {
			return nil, fmt.Errorf("--public-key %s: %w", f, err)
		}
		keys = append(keys, k...)
	}
	return keys, nil
}

func printJSON(w io.Writer, v any) error {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}
