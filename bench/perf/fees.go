package perf

import (
	"fmt"
)

// Prices are request prices in US dollars per million requests (us-east-1).
type Prices struct {
	S3StandardPut  float64 `json:"s3StandardPutListPerMillion"`
	S3StandardGet  float64 `json:"s3StandardGetPerMillion"`
	S3ExpressPut   float64 `json:"s3ExpressPutListPerMillion"`
	S3ExpressGet   float64 `json:"s3ExpressGetPerMillion"`
	SQS            float64 `json:"sqsPerMillion"`
	DynamoRead     float64 `json:"dynamoDBReadUnitPerMillion"`
	DynamoWrite    float64 `json:"dynamoDBWriteUnitPerMillion"`
	DynamoWriteWRU int     `json:"dynamoDBWriteUnitsPerPut"`
	Source         string  `json:"source"`
}

func defaultPrices(valueSize int) Prices {
	return Prices{
		S3StandardPut: 5.0, S3StandardGet: 0.4, S3ExpressPut: 1.13, S3ExpressGet: 0.03,
		SQS: 0.40, DynamoRead: 0.125, DynamoWrite: 0.625,
		// One write unit per KB of item: the value plus about 100 bytes of key
		// and attribute names.
		DynamoWriteWRU: (valueSize + 100 + 1023) / 1024,
		Source: "us-east-1 request prices: S3 Standard PUT/LIST $0.005 and GET $0.0004 per 1,000; S3 Express One Zone " +
			"PUT/LIST $0.00113 and GET $0.00003 per 1,000; SQS $0.40 per million; DynamoDB on-demand $0.625 per million " +
			"write units (from ../shared/notes/design.md) and $0.125 per million read units (AWS price list since " +
			"November 2024; a strongly consistent read of up to 4 KB is one unit). DELETE is free. Lambda, API Gateway " +
			"and storage are not included.",
	}
}

// Fee is the request cost of one million operations of a kind.
type Fee struct {
	Op                 string  `json:"op"`
	S3Standard         float64 `json:"s3Standard"`
	S3Express          float64 `json:"s3Express"`
	SQS                float64 `json:"sqs"`
	DynamoMembership   float64 `json:"dynamoDBMembership"`
	TotalStandard      float64 `json:"totalS3Standard"`
	TotalExpress       float64 `json:"totalS3Express"`
	DynamoEquivalent   float64 `json:"dynamoDBOnDemandEquivalent"`
	DynamoEquivalentIs string  `json:"dynamoDBEquivalentIs"`
}

func (e *EndpointResult) fees(p Prices) []Fee {
	var out []Fee
	add := func(label string, r *RequestsPerOp, ddbEq float64, eqIs string) {
		if r == nil {
			return
		}
		std := r.Get*p.S3StandardGet + (r.Put+r.List)*p.S3StandardPut
		exp := r.Get*p.S3ExpressGet + (r.Put+r.List)*p.S3ExpressPut
		sqs := r.SQS * p.SQS
		ddb := r.DynamoReadUnits * p.DynamoRead
		out = append(out, Fee{Op: label, S3Standard: std, S3Express: exp, SQS: sqs, DynamoMembership: ddb,
			TotalStandard: std + sqs + ddb, TotalExpress: exp + sqs + ddb, DynamoEquivalent: ddbEq, DynamoEquivalentIs: eqIs})
	}
	wru := float64(p.DynamoWriteWRU)
	put := wru * p.DynamoWrite
	putIs := fmt.Sprintf("PutItem of the value: %d write unit(s)", p.DynamoWriteWRU)
	get := func(k string) *RequestsPerOp { return e.Ops[k].RequestsPerOp }
	add(kGet, get(kGet), p.DynamoRead, "strongly consistent GetItem: 1 read unit")
	add(kRMW+" (get + put)", e.Ops[kRMW].RequestsPerOp, p.DynamoRead+put, "GetItem + conditional PutItem")
	add(kRMWPut, get(kRMWPut), put, putIs)
	add(kUpdate, get(kUpdate), put, putIs)
	add(kBlindPut, get(kBlindPut), put, putIs)
	if g, p3 := get(kGet), get(kPut33); g != nil && p3 != nil {
		add(kPut33+" (get + (3,3) put)", addPerOp(g, p3), p.DynamoRead+put, "GetItem + conditional PutItem")
	}
	return out
}
