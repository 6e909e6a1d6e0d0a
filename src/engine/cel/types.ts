import { create, createFileRegistry, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { objectType, type CelObjectType } from "@bufbuild/cel";
import type { ReflectMessage } from "@bufbuild/protobuf/reflect";

/*
 * @bufbuild/cel represents every non-primitive value as a protobuf message. Kubernetes' opaque CEL
 * types (kubernetes.Quantity, net.IP, net.CIDR) are therefore declared here as one-field messages
 * whose field holds a canonical text form, so `==` between two values compares meaning, not spelling.
 */
const TYPE_STRING = 9;
const LABEL_OPTIONAL = 1;

function opaqueFile(pkg: string, names: string[]) {
  return create(FileDescriptorProtoSchema, {
    name: `virtguard/${pkg}.proto`,
    package: pkg,
    syntax: "proto3",
    messageType: names.map((name) => ({
      name,
      field: [{ name: "v", number: 1, type: TYPE_STRING, label: LABEL_OPTIONAL, jsonName: "v" }],
    })),
  });
}

export const registry: Registry = createFileRegistry(
  createFileRegistry(opaqueFile("kubernetes", ["Quantity"]), () => undefined),
  createFileRegistry(opaqueFile("net", ["IP", "CIDR"]), () => undefined),
);

function message(typeName: string): DescMessage {
  const desc = registry.getMessage(typeName);
  if (!desc) throw new Error(`internal: CEL type ${typeName} is not registered`);
  return desc;
}

export interface OpaqueType {
  readonly cel: CelObjectType;
  wrap(canonical: string): ReflectMessageLike;
  unwrap(value: unknown): string;
}

/** What @bufbuild/cel hands a method as `this` or an argument for a message-typed value. */
export type ReflectMessageLike = ReflectMessage | { $typeName: string; v: string };

function opaque(typeName: string): OpaqueType {
  const desc = message(typeName);
  return {
    cel: objectType(desc),
    wrap: (canonical) => create(desc, { v: canonical } as never) as unknown as ReflectMessageLike,
    unwrap(value) {
      const msg = (value as { message?: { v?: unknown } }).message ?? (value as { v?: unknown });
      if (typeof msg.v !== "string") throw new Error(`internal: expected a ${typeName} value`);
      return msg.v;
    },
  };
}

export const QuantityType = opaque("kubernetes.Quantity");
export const IPType = opaque("net.IP");
export const CIDRType = opaque("net.CIDR");
