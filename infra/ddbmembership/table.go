// Package ddbmembership implements kv.Membership over an Amazon DynamoDB
// table. The whole cluster is one item: partition key pk = "cluster", a number
// attribute epoch, and a string attribute body holding the JSON of kv.Cluster.
// Saves are compare-and-swap on epoch through a condition expression.
package ddbmembership

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/cartwheel/cartwheel/core/kv"
)

// Item layout.
const (
	// KeyAttr is the table's partition key (a string).
	KeyAttr = "pk"
	// ClusterKey is the partition key value of the cluster item.
	ClusterKey = "cluster"
	// EpochAttr holds Cluster.Epoch as a number.
	EpochAttr = "epoch"
	// BodyAttr holds the JSON of the kv.Cluster.
	BodyAttr = "body"
	// MaxItemBytes is DynamoDB's item size limit; a cluster whose JSON comes
	// close (tens of thousands of partitions with long node ids) cannot be saved.
	MaxItemBytes = 400 * 1024
)

// Table is a kv.Membership over one DynamoDB table. It is safe for concurrent
// use.
type Table struct {
	client *dynamodb.Client
	name   string
}

var _ kv.Membership = (*Table)(nil)

// New returns the membership stored in table name (see EnsureTable).
func New(client *dynamodb.Client, name string) (*Table, error) {
	if client == nil {
		return nil, errors.New("ddbmembership: nil client")
	}
	if name == "" {
		return nil, errors.New("ddbmembership: empty table name")
	}
	return &Table{client: client, name: name}, nil
}

func key() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{KeyAttr: &types.AttributeValueMemberS{Value: ClusterKey}}
}

// Load implements kv.Membership with a strongly consistent GetItem. A missing
// item is kv.ErrNotFound; a missing table is a plain error.
func (t *Table) Load(ctx context.Context) (kv.Cluster, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &t.name,
		Key:            key(),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("dynamodb load %s: %w", t.name, err)
	}
	if len(out.Item) == 0 {
		return kv.Cluster{}, fmt.Errorf("dynamodb load %s: %w", t.name, kv.ErrNotFound)
	}
	body, ok := out.Item[BodyAttr].(*types.AttributeValueMemberS)
	if !ok {
		return kv.Cluster{}, fmt.Errorf("dynamodb load %s: attribute %s is missing or not a string", t.name, BodyAttr)
	}
	var c kv.Cluster
	if err := json.Unmarshal([]byte(body.Value), &c); err != nil {
		return kv.Cluster{}, fmt.Errorf("dynamodb load %s: decode body: %w", t.name, err)
	}
	if ep, ok := out.Item[EpochAttr].(*types.AttributeValueMemberN); !ok || ep.Value != strconv.FormatUint(c.Epoch, 10) {
		return kv.Cluster{}, fmt.Errorf("dynamodb load %s: attribute %s does not match body epoch %d", t.name, EpochAttr, c.Epoch)
	}
	return c, nil
}

// Save implements kv.Membership with a conditional PutItem:
// attribute_not_exists(pk) when prevEpoch is 0, else epoch = prevEpoch.
// ConditionalCheckFailedException is kv.ErrPrecondition. c.Epoch <= prevEpoch
// is an error that does not wrap kv.ErrPrecondition (retrying cannot help).
func (t *Table) Save(ctx context.Context, c kv.Cluster, prevEpoch uint64) error {
	if c.Epoch <= prevEpoch {
		return fmt.Errorf("dynamodb save %s: epoch %d must be greater than previous epoch %d", t.name, c.Epoch, prevEpoch)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("dynamodb save %s epoch %d: %w", t.name, c.Epoch, err)
	}
	if len(body) > MaxItemBytes-1024 {
		return fmt.Errorf("dynamodb save %s epoch %d: cluster is %d bytes of JSON, over DynamoDB's %d-byte item limit", t.name, c.Epoch, len(body), MaxItemBytes)
	}
	in := &dynamodb.PutItemInput{
		TableName: &t.name,
		Item: map[string]types.AttributeValue{
			KeyAttr:   &types.AttributeValueMemberS{Value: ClusterKey},
			EpochAttr: &types.AttributeValueMemberN{Value: strconv.FormatUint(c.Epoch, 10)},
			BodyAttr:  &types.AttributeValueMemberS{Value: string(body)},
		},
	}
	if prevEpoch == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		in.ExpressionAttributeNames = map[string]string{"#pk": KeyAttr}
	} else {
		in.ConditionExpression = aws.String("#epoch = :prev")
		in.ExpressionAttributeNames = map[string]string{"#epoch": EpochAttr}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":prev": &types.AttributeValueMemberN{Value: strconv.FormatUint(prevEpoch, 10)},
		}
	}
	if _, err := t.client.PutItem(ctx, in); err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) || isCode(err, "ConditionalCheckFailedException") {
			// The SDK retries a request whose answer was lost; if the first
			// attempt landed, the retry fails its own condition. The write is
			// ours if the stored cluster is exactly the one we saved.
			if cur, lerr := t.Load(ctx); lerr == nil && cur.Epoch == c.Epoch {
				if b, merr := json.Marshal(cur); merr == nil && bytes.Equal(b, body) {
					return nil
				}
			}
			return fmt.Errorf("dynamodb save %s epoch %d over %d: %w: %w", t.name, c.Epoch, prevEpoch, kv.ErrPrecondition, err)
		}
		return fmt.Errorf("dynamodb save %s epoch %d: %w", t.name, c.Epoch, err)
	}
	return nil
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// EnsureTable creates table name (on-demand billing, string hash key pk) if it
// does not exist, then polls DescribeTable until it is ACTIVE, for at most two
// minutes or until ctx is done. An existing table with another key schema is
// an error.
func EnsureTable(ctx context.Context, client *dynamodb.Client, name string) error {
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   &name,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(KeyAttr), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(KeyAttr), KeyType: types.KeyTypeHash},
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) && !isCode(err, "ResourceInUseException") {
		return fmt.Errorf("dynamodb create table %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name})
		if err != nil {
			return fmt.Errorf("dynamodb describe table %s: %w", name, err)
		}
		if err := checkSchema(out.Table); err != nil {
			return fmt.Errorf("dynamodb table %s: %w", name, err)
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamodb table %s: still %s: %w", name, out.Table.TableStatus, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func checkSchema(t *types.TableDescription) error {
	if t == nil {
		return errors.New("no table description")
	}
	for _, k := range t.KeySchema {
		if k.KeyType == types.KeyTypeHash && aws.ToString(k.AttributeName) == KeyAttr {
			if len(t.KeySchema) != 1 {
				return fmt.Errorf("key schema has a sort key; want only hash key %s", KeyAttr)
			}
			return nil
		}
	}
	return fmt.Errorf("hash key is not %s", KeyAttr)
}
