"""Talks to a reel agent with no .proto files: lists its services through
server reflection (v1alpha), builds the message classes from the descriptors
it serves, calls reel.v1.Reel/GetInfo, and starts a proxy whose fault
profile it spells with the enum names reflection gave it (then reads the
profile back from ListProxies and stops the proxy).

Usage: reflect.py HOST:PORT UPSTREAM
Prints one JSON object: {"services": [...], "methods": [...], "get_info": {...},
"enums": {name: [value names]}, "fields": {message.field: type}, "proxy": {...}}.
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

# The enums reel.v1 types its wire values with, and the typed fields a client
# gets from reflection (a message or an enum, never a string to parse).
ENUMS = ["ReplayMode", "ReplayState", "LatencyDistribution", "FaultDirection", "RuleTable"]
FIELDS = {
    "StartReplayRequest": ["mode"],
    "ReplayReport": ["state", "mode"],
    "ReplayProgress": ["state"],
    "Latency": ["distribution"],
    "FaultProfile": ["direction"],
    "RuleCount": ["table"],
    "AnalyzeRecordingResponse": ["analysis"],
}


def field_type(field) -> str:
    """`enum reel.v1.X`, `message reel.v1.X` or the scalar's type number."""
    if field.enum_type is not None:
        return f"enum {field.enum_type.full_name}"
    if field.message_type is not None:
        return f"message {field.message_type.full_name}"
    return f"scalar {field.type}"


def unary(channel, service, name):
    """A callable for one method, with classes built from reflection."""
    method = service.methods_by_name[name]
    request_class = message_factory.GetMessageClass(method.input_type)
    reply_class = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(
        f"/{service.full_name}/{method.name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=reply_class.FromString,
    )
    return request_class, call


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: reflect.py HOST:PORT UPSTREAM", file=sys.stderr)
        return 2
    with grpc.insecure_channel(sys.argv[1]) as channel:
        grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)
        db = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(db.get_services())
        pool = descriptor_pool.DescriptorPool(db)
        reel = pool.FindServiceByName("reel.v1.Reel")
        request_class, get_info = unary(channel, reel, "GetInfo")
        reply = get_info(request_class(), timeout=TIMEOUT_S)
        enums = {
            name: [v.name for v in pool.FindEnumTypeByName(f"reel.v1.{name}").values]
            for name in ENUMS
        }
        fields = {
            f"{message}.{field}": field_type(
                pool.FindMessageTypeByName(f"reel.v1.{message}").fields_by_name[field]
            )
            for message, names in FIELDS.items()
            for field in names
        }
        # A typed request built from names alone, read back as names.
        start_class, start_proxy = unary(channel, reel, "StartProxy")
        start = json_format.ParseDict(
            {
                "listen": "127.0.0.1:0",
                "upstream": sys.argv[2],
                "faults": {
                    "direction": "FAULT_DIRECTION_C2S",
                    "latency": {
                        "distribution": "LATENCY_DISTRIBUTION_UNIFORM",
                        "min_us": 1000,
                        "max_us": 2000,
                    },
                },
            },
            start_class(),
        )
        started = start_proxy(start, timeout=TIMEOUT_S)
        list_class, list_proxies = unary(channel, reel, "ListProxies")
        listed = list_proxies(list_class(), timeout=TIMEOUT_S)
        proxy = next(p for p in listed.proxies if p.id == started.id)
        stop_class, stop_proxy = unary(channel, reel, "StopProxy")
        stop_proxy(stop_class(id=started.id), timeout=TIMEOUT_S)
        print(
            json.dumps(
                {
                    "services": services,
                    "methods": sorted(m.name for m in reel.methods),
                    "get_info": json_format.MessageToDict(
                        reply, preserving_proto_field_name=True
                    ),
                    "enums": enums,
                    "fields": fields,
                    "proxy": json_format.MessageToDict(
                        proxy, preserving_proto_field_name=True
                    ),
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
