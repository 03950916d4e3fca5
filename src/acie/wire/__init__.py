"""acie.wire: what the client and the server share on the wire, and nothing else.

::

    decode_tensor, encode_tensor, decode_b64, encode_b64, MAX_ELEMENTS   tensors.py
    inference_pb2, inference_pb2_grpc, SERVICE_NAME                       proto.py

:mod:`acie.wire.tensors` is the tensor codec (float32 little-endian bytes with a shape;
base64 in JSON) and needs only numpy. :mod:`acie.wire.proto` holds the generated
protobuf messages and gRPC stubs of ``proto/acie/v1/inference.proto`` (regenerated into
``acie/wire/_proto`` by ``scripts/gen_proto.sh``) and needs ``grpcio`` and ``protobuf``,
so it is imported only when asked for. Both :mod:`acie.client` and :mod:`acie.serve`
import from here; the client never imports the server.
"""

from __future__ import annotations

from acie.wire.tensors import MAX_ELEMENTS, decode_b64, decode_tensor, encode_b64, encode_tensor

__all__ = ["MAX_ELEMENTS", "decode_b64", "decode_tensor", "encode_b64", "encode_tensor"]
