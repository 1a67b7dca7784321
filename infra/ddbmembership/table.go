// Package ddbmembership implements kv.Membership over an Amazon DynamoDB
// table. The whole cluster is one item: partition key pk = "cluster", a number
// attribute epoch, and the JSON of kv.Cluster, either as the string attribute
// body (up to InlineBytes) or gzip-compressed as the binary attribute bodyz.
// The owner lists (Q entries each for Owners and Next) dominate a large
// record and compress about 20-fold, so a cluster of Q=16384 partitions and
// hundreds of nodes with 64-character ids, a pending ring change and its
// progress and cleanups fits DynamoDB's 400 KB item (see TestRecordSize).
// Saves are compare-and-swap on epoch through a condition expression.
package ddbmembership

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	// BodyAttr holds the JSON of the kv.Cluster (a string), when it is at
	// most InlineBytes long.
	BodyAttr = "body"
	// ZBodyAttr holds the gzip-compressed JSON of a larger kv.Cluster (binary).
	ZBodyAttr = "bodyz"
	// InlineBytes is the largest JSON body stored uncompressed (readable in
	// the console).
	InlineBytes = 32 * 1024
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
	raw, err := bodyOf(out.Item)
	if err != nil {
		return kv.Cluster{}, fmt.Errorf("dynamodb load %s: %w", t.name, err)
	}
	var c kv.Cluster
	if err := json.Unmarshal(raw, &c); err != nil {
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
	item, size, err := encodeItem(c.Epoch, body)
	if err != nil {
		return fmt.Errorf("dynamodb save %s epoch %d: %w", t.name, c.Epoch, err)
	}
	if size > MaxItemBytes-1024 {
		return fmt.Errorf("dynamodb save %s epoch %d: cluster is %d bytes stored (%d of JSON), over DynamoDB's %d-byte item limit", t.name, c.Epoch, size, len(body), MaxItemBytes)
	}
	in := &dynamodb.PutItemInput{TableName: &t.name, Item: item}
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

// encodeItem builds the cluster item for the JSON body: inline up to
// InlineBytes, gzip-compressed above. It returns the item and its body's
// stored size.
func encodeItem(epoch uint64, body []byte) (map[string]types.AttributeValue, int, error) {
	item := map[string]types.AttributeValue{
		KeyAttr:   &types.AttributeValueMemberS{Value: ClusterKey},
		EpochAttr: &types.AttributeValueMemberN{Value: strconv.FormatUint(epoch, 10)},
	}
	if len(body) <= InlineBytes {
		item[BodyAttr] = &types.AttributeValueMemberS{Value: string(body)}
		return item, len(body), nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, 0, fmt.Errorf("compress body: %w", err)
	}
	if _, err := zw.Write(body); err != nil {
		return nil, 0, fmt.Errorf("compress body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, 0, fmt.Errorf("compress body: %w", err)
	}
	item[ZBodyAttr] = &types.AttributeValueMemberB{Value: buf.Bytes()}
	return item, buf.Len(), nil
}

// maxBodyBytes bounds a decompressed body (a corrupt or hostile item).
const maxBodyBytes = 64 << 20

// bodyOf returns the JSON body of an item, inline or compressed.
func bodyOf(item map[string]types.AttributeValue) ([]byte, error) {
	if z, ok := item[ZBodyAttr].(*types.AttributeValueMemberB); ok {
		zr, err := gzip.NewReader(bytes.NewReader(z.Value))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", ZBodyAttr, err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, maxBodyBytes+1))
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", ZBodyAttr, err)
		}
		if len(raw) > maxBodyBytes {
			return nil, fmt.Errorf("decompress %s: over %d bytes", ZBodyAttr, maxBodyBytes)
		}
		return raw, nil
	}
	body, ok := item[BodyAttr].(*types.AttributeValueMemberS)
	if !ok {
		return nil, fmt.Errorf("attribute %s is missing or not a string, and %s is missing", BodyAttr, ZBodyAttr)
	}
	return []byte(body.Value), nil
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
