import { celUint } from "@bufbuild/cel";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ExprSchema, type Expr } from "@bufbuild/cel-spec/cel/expr/syntax_pb.js";
import { dispatcher } from "./calls.js";
import { planSubtree } from "./fallback.js";
import { TYPE_IDENTS } from "./types.js";
import { Double, TypeBox } from "./values.js";

/**
 * How to rebuild one constant of generated code in another process, as JSON: generated code can
 * then be stored (by a caller, at build time or in a cache) and instantiated without parsing,
 * checking or compiling its expression again.
 */
export type ConstantSpec =
  | readonly ["uint", string]
  /** A double literal with an integral value (kept apart from ints), and a non-finite one. */
  | readonly ["double" | "number", string]
  | readonly ["bytes", string]
  | readonly ["type", string]
  /** A library function's dispatcher: name, called as a method, arity. */
  | readonly ["call", string, boolean, number]
  /** A sub-expression left to the interpreter: its tree (protobuf binary, base64) and free variables. */
  | readonly ["plan", string, readonly string[]];

export function subtreeSpec(e: Expr, names: readonly string[]): ConstantSpec {
  return ["plan", Buffer.from(toBinary(ExprSchema, e)).toString("base64"), names];
}

export function constantOf(spec: ConstantSpec): unknown {
  switch (spec[0]) {
    case "uint":
      return celUint(BigInt(spec[1]));
    case "double":
      return new Double(Number(spec[1]));
    case "number":
      return Number(spec[1]);
    case "bytes":
      return new Uint8Array(Buffer.from(spec[1], "base64"));
    case "type": {
      const type = TYPE_IDENTS.get(spec[1]);
      if (!type) throw new Error(`unknown type constant ${spec[1]}`);
      return new TypeBox(type as TypeBox["t"]);
    }
    case "call":
      return dispatcher(spec[1], spec[2], spec[3]);
    case "plan":
      return planSubtree(fromBinary(ExprSchema, Buffer.from(spec[1], "base64")), spec[2]);
  }
}
