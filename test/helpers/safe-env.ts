// Every test process talks to 127.0.0.1 only: no credential chain, no EC2 metadata probe,
// no EMF environment detection.
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_EMF_ENVIRONMENT = 'Local';
process.env.AWS_ACCESS_KEY_ID ??= 'test-backend-key';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test-backend-secret';
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
