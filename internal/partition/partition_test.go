package partition

import "testing"

func TestForRegion(t *testing.T) {
	for region, want := range map[string]Partition{
		"us-east-1":      {"aws", "amazonaws.com"},
		"ap-southeast-2": {"aws", "amazonaws.com"},
		"cn-northwest-1": {"aws-cn", "amazonaws.com.cn"},
		"us-gov-west-1":  {"aws-us-gov", "amazonaws.com"},
	} {
		if got, err := ForRegion(region); err != nil || got != want {
			t.Errorf("%s: %+v, %v", region, got, err)
		}
	}
	for _, bad := range []string{"", "useast1", "US-EAST-1", "us-east-1a"} {
		if _, err := ForRegion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
