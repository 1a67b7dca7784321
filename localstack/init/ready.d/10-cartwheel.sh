#!/usr/bin/env bash
# LocalStack init hook (runs inside the container once it is ready): creates
# Cartwheel's default bucket, hint queue + dead-letter queue and membership table.
# localstack/up also creates them (idempotently) from the host with the same
# settings as infra/sqshints.Ensure; this hook makes a bare `docker compose up` usable.
set -euo pipefail

bucket=${CARTWHEEL_LOCAL_BUCKET:-cartwheel-local}
queue=${CARTWHEEL_LOCAL_QUEUE:-cartwheel-hints}
dlq=${CARTWHEEL_LOCAL_DLQ:-cartwheel-hints-dlq}
table=${CARTWHEEL_LOCAL_TABLE:-cartwheel-membership}

awslocal s3api head-bucket --bucket "$bucket" 2>/dev/null || awslocal s3api create-bucket --bucket "$bucket"

dlq_url=$(awslocal sqs create-queue --queue-name "$dlq" --attributes MessageRetentionPeriod=1209600 --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)
awslocal sqs create-queue --queue-name "$queue" --attributes "{\"MessageRetentionPeriod\":\"1209600\",\"VisibilityTimeout\":\"60\",\"RedrivePolicy\":\"{\\\"deadLetterTargetArn\\\":\\\"$dlq_arn\\\",\\\"maxReceiveCount\\\":\\\"5\\\"}\"}" >/dev/null

awslocal dynamodb describe-table --table-name "$table" >/dev/null 2>&1 ||
  awslocal dynamodb create-table --table-name "$table" --billing-mode PAY_PER_REQUEST \
    --attribute-definitions AttributeName=pk,AttributeType=S --key-schema AttributeName=pk,KeyType=HASH >/dev/null
echo "cartwheel: default resources ready"
