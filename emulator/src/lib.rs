//! bedrock-emulator: a local Amazon Bedrock Runtime for offline runs and tests.
