package ddbmembership_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/cartwheel/cartwheel/core/kv"
	"github.com/cartwheel/cartwheel/infra/awstest"
	"github.com/cartwheel/cartwheel/infra/ddbmembership"
	"github.com/cartwheel/cartwheel/infra/storetest"
)

func TestConformance(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		c := b.DynamoDB(t)
		storetest.Membership(t, func(t *testing.T) kv.Membership {
			m, err := ddbmembership.New(c, b.NewTable(t))
			if err != nil {
				t.Fatal(err)
			}
			return m
		})
	})
}

func TestEnsureTableIdempotent(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		c := b.DynamoDB(t)
		name := b.NewTable(t)
		if err := ddbmembership.EnsureTable(context.Background(), c, name); err != nil {
			t.Fatalf("EnsureTable on an existing table: %v", err)
		}
	})
}

func TestEnsureTableRejectsOtherSchema(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		ctx := context.Background()
		c := b.DynamoDB(t)
		name := awstest.UniqueName(t)
		_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            &name,
			BillingMode:          types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = c.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &name}) })
		if err := ddbmembership.EnsureTable(ctx, c, name); err == nil {
			t.Fatal("EnsureTable accepted a table keyed on id")
		}
	})
}

func TestMissingTableIsNotNotFound(t *testing.T) {
	awstest.ForEach(t, func(t *testing.T, b awstest.Backend) {
		m, err := ddbmembership.New(b.DynamoDB(t), awstest.UniqueName(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Load(context.Background()); err == nil || errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Load from a missing table: %v, want an error other than ErrNotFound", err)
		}
	})
}

func TestCorruptItem(t *testing.T) {
	b := awstest.Backends(t)[0]
	ctx := context.Background()
	c := b.DynamoDB(t)
	name := b.NewTable(t)
	m, err := ddbmembership.New(c, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []map[string]types.AttributeValue{
		{"body": &types.AttributeValueMemberN{Value: "1"}},
		{"body": &types.AttributeValueMemberS{Value: "{"}},
		{"body": &types.AttributeValueMemberS{Value: `{"epoch":2}`}, "epoch": &types.AttributeValueMemberN{Value: "3"}},
	} {
		item["pk"] = &types.AttributeValueMemberS{Value: "cluster"}
		if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: &name, Item: item}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Load(ctx); err == nil || errors.Is(err, kv.ErrNotFound) {
			t.Fatalf("Load of %v: %v, want a decode error", item, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	b := awstest.Backends(t)[0]
	m, err := ddbmembership.New(b.DynamoDB(t), "unused")
	if err != nil {
		t.Fatal(err)
	}
	c := kv.Cluster{Epoch: 1, Params: kv.DefaultParams(), Owners: make([]string, 1<<16)}
	rnd := rand.New(rand.NewSource(1))
	for i := range c.Owners {
		c.Owners[i] = fmt.Sprintf("%016x%016x", rnd.Uint64(), rnd.Uint64()) // incompressible
	}
	if err := m.Save(context.Background(), c, 0); err == nil {
		t.Fatal("Save of a 2 MB cluster succeeded")
	}
}

// A cluster whose JSON is far over the item limit but compresses well (Q =
// 16384, long node ids) is saved compressed and loads back equal.
func TestLargeRecordRoundTrip(t *testing.T) {
	b := awstest.Backends(t)[0]
	ctx := context.Background()
	m, err := ddbmembership.New(b.DynamoDB(t), b.NewTable(t))
	if err != nil {
		t.Fatal(err)
	}
	p := kv.DefaultParams()
	p.Q = kv.MaxQ
	c := kv.Cluster{Epoch: 1, Params: p, Owners: make([]string, p.Q), Next: make([]string, p.Q)}
	for i := range c.Owners {
		c.Owners[i] = fmt.Sprintf("node-with-a-long-identifier-%036d", i%100)
		c.Next[i] = fmt.Sprintf("node-with-a-long-identifier-%036d", (i+1)%100)
	}
	if err := m.Save(ctx, c, 0); err != nil {
		t.Fatalf("save of a %d-partition cluster: %v", p.Q, err)
	}
	got, err := m.Load(ctx)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("load: %v", err)
	}
	next := c
	next.Epoch = 2
	if err := m.Save(ctx, next, 1); err != nil {
		t.Fatalf("conditional save over a compressed record: %v", err)
	}
	if err := m.Save(ctx, next, 1); err != nil {
		t.Fatalf("an idempotent retry of a compressed save: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := ddbmembership.New(nil, "t"); err == nil {
		t.Error("New accepted a nil client")
	}
	if _, err := ddbmembership.New(&dynamodb.Client{}, ""); err == nil {
		t.Error("New accepted an empty table name")
	}
}
