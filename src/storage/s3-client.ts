// The one place an S3Client is configured from S3Settings.
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { s3Sdk } from './aws-sdk.js';
import type { S3Settings } from './s3-settings.js';

/** Attempts per request, first included: a brief blip is retried here, a longer outage is the archiver's to back off. */
const MAX_ATTEMPTS = 3;

export function createS3Client(settings: S3Settings): S3Client {
  // This project supports Node 20 (package.json engines). The SDK's notice about its own future Node requirement
  // would otherwise be a multi-line warning on stderr of every CLI command, where errors are meant to be one line.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const checksums = settings.checksums === 'when_required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  const config: S3ClientConfig = {
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    maxAttempts: MAX_ATTEMPTS,
    // Timeouts turn a dead or hung server into a prompt rejection instead of a request that never settles.
    requestHandler: {
      connectionTimeout: settings.connectTimeoutMs,
      socketTimeout: settings.idleTimeoutMs,
    },
  };
  if (settings.endpoint !== undefined) config.endpoint = settings.endpoint;
  if (settings.accessKeyId !== undefined && settings.secretAccessKey !== undefined) {
    config.credentials = { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey };
  }
  return new s3Sdk.S3Client(config);
}
