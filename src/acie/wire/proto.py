"""The protobuf messages and gRPC stubs of ``acie.v1`` (``proto/acie/v1/inference.proto``).

The modules are generated into :mod:`acie.wire._proto` by ``scripts/gen_proto.sh`` and
committed; this module is their one public import path::

    from acie.wire.proto import inference_pb2 as pb, inference_pb2_grpc as pb_grpc
"""

from __future__ import annotations

from acie.wire._proto import inference_pb2, inference_pb2_grpc

__all__ = ["SERVICE_NAME", "inference_pb2", "inference_pb2_grpc"]

#: full name of the inference service (the prefix of its gRPC method paths)
SERVICE_NAME = "acie.v1.InferenceService"
