// Package partition names the AWS partition of a region: the ARN prefix
// and the DNS suffix of its public endpoints.
package partition

import (
	"fmt"
	"regexp"
	"strings"
)

// Partition is one of AWS's isolated groups of regions.
type Partition struct {
	// Name is the ARN partition: aws, aws-cn or aws-us-gov.
	Name string
	// DNSSuffix ends the public endpoints' host names.
	DNSSuffix string
}

var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// ForRegion returns the partition of region, or an error when region is
// not shaped like an AWS region name (us-east-1, cn-north-1).
func ForRegion(region string) (Partition, error) {
	if !regionName.MatchString(region) {
		return Partition{}, fmt.Errorf("%q is not an AWS region name (like us-east-1)", region)
	}
	switch {
	case strings.HasPrefix(region, "cn-"):
		return Partition{Name: "aws-cn", DNSSuffix: "amazonaws.com.cn"}, nil
	case strings.HasPrefix(region, "us-gov-"):
		return Partition{Name: "aws-us-gov", DNSSuffix: "amazonaws.com"}, nil
	}
	return Partition{Name: "aws", DNSSuffix: "amazonaws.com"}, nil
}
