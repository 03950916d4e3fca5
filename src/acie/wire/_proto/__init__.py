"""Generated protobuf and gRPC stubs of proto/acie/v1 (regenerate with scripts/gen_proto.sh)."""
