package main

import (
	"reflect"
	"testing"

	"github.com/cartwheel/cartwheel/core/kv"
)

func TestParseLocation(t *testing.T) {
	got, err := parseLocation("eu1", "s3://cart-eu/nodes/eu1", "eu-west-1", "")
	if err != nil || !reflect.DeepEqual(got, &kv.Location{Region: "eu-west-1", Bucket: "cart-eu", Prefix: "nodes/eu1/"}) {
		t.Fatalf("got %+v, %v", got, err)
	}
	got, err = parseLocation("eu1", "s3://cart-eu", "eu-west-1", "http://127.0.0.1:5001")
	if err != nil || got.Prefix != "nodes/eu1/" || got.Endpoint != "http://127.0.0.1:5001" {
		t.Fatalf("got %+v, %v", got, err)
	}
	if got, err := parseLocation("n7", "", "", ""); got != nil || err != nil {
		t.Fatalf("no location: %+v, %v", got, err)
	}
	for _, bad := range [][3]string{{"cart-eu/x", "", ""}, {"s3:///x", "", ""}, {"", "eu-west-1", ""}, {"s3://b", "", "ftp://x"}} {
		if _, err := parseLocation("n", bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
