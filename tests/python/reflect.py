"""Talks to a reel agent with no .proto files: lists its services through
server reflection (v1alpha), builds the message classes from the descriptors
it serves, and calls reel.v1.Reel/GetInfo.

Usage: reflect.py HOST:PORT
Prints one JSON object: {"services": [...], "methods": [...], "get_info": {...}}.
Exit code 3 when grpcio or grpcio-reflection is missing.
"""

import json
import sys

try:
    import grpc
    from google.protobuf import descriptor_pool, json_format, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase,
    )
except ImportError as e:
    print(
        f"error: {e}: run scripts/test.sh, or pip install grpcio grpcio-reflection",
        file=sys.stderr,
    )
    sys.exit(3)

TIMEOUT_S = 10


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: reflect.py HOST:PORT", file=sys.stderr)
        return 2
    with grpc.insecure_channel(sys.argv[1]) as channel:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
        db = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(db.get_services())
        pool = descriptor_pool.DescriptorPool(db)
        reel = pool.FindServiceByName("reel.v1.Reel")
        method = reel.methods_by_name["GetInfo"]
        request_class = message_factory.GetMessageClass(method.input_type)
        reply_class = message_factory.GetMessageClass(method.output_type)
        get_info = channel.unary_unary(
            f"/{reel.full_name}/{method.name}",
            request_serializer=request_class.SerializeToString,
            response_deserializer=reply_class.FromString,
        )
        reply = get_info(request_class(), timeout=TIMEOUT_S)
        print(
            json.dumps(
                {
                    "services": services,
                    "methods": sorted(m.name for m in reel.methods),
                    "get_info": json_format.MessageToDict(
                        reply, preserving_proto_field_name=True
                    ),
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
