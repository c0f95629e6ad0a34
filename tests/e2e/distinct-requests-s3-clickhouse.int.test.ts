// Distinct requests end to end on s3rver + ClickHouse 18.16: see tests/helpers/distinct-requests-scenario.ts.
import { S3_CLICKHOUSE_PAIR } from '../helpers/adapter-pairs.js';
import { describeDistinctRequests } from '../helpers/distinct-requests-scenario.js';

describeDistinctRequests(S3_CLICKHOUSE_PAIR);
