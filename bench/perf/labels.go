package perf

import (
	"fmt"
)

// opOrder is the display order of the operation kinds.
var opOrder = []string{kRawGet, kRawFanGet, kRawHedgedGet, kRawPut, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kRMW, kUpdate, kBlindPut, kPut33}

var plotKinds = []string{kRawGet, kRawFanGet, kRawPut, kRawFanPut, kRawFanPut33, kGet, kRMWPut, kUpdate, kBlindPut, kPut33}

var opLabels = map[string]string{
	kRawGet:       "raw GET",
	kRawFanGet:    "raw fan-out get (3 GET, wait 2)",
	kRawHedgedGet: "raw hedged get (2 GET, +1 after delay)",
	kRawPut:       "raw PUT (conditional)",
	kRawFanPut:    "raw fan-out put (PUT, then 2, wait 1)",
	kRawFanPut33:  "raw fan-out put (PUT, then 2, wait 2)",
	kGet:          "Cartwheel get (R=2)",
	kRMWPut:       "Cartwheel read-modify-write put (W=2)",
	kRMW:          "Cartwheel get + put, whole",
	kUpdate:       "Cartwheel update (cached context)",
	kBlindPut:     "Cartwheel blind put (new key)",
	kPut33:        "Cartwheel (3,3) put",
}

func f2(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", x)
}
