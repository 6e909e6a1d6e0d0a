import { celFunc, celMethod, CelScalar, listType, type CelFunc, type CelType, type CelValue } from "@bufbuild/cel";
import { fromInterpreter, toInterpreter, type Value } from "./codegen/values.js";
import { LIBRARY, type ArgType, type Overload } from "./library.js";
import { CIDRType, IPType, QuantityType } from "./types.js";

const TYPES: Record<ArgType, CelType> = {
  string: CelScalar.STRING,
  int: CelScalar.INT,
  double: CelScalar.DOUBLE,
  bool: CelScalar.BOOL,
  list: listType(CelScalar.DYN),
  dyn: CelScalar.DYN,
  "kubernetes.Quantity": QuantityType.cel,
  "net.IP": IPType.cel,
  "net.CIDR": CIDRType.cel,
};

/** Registers one library overload with the interpreter, converting values at the boundary. */
function adapt(o: Overload): CelFunc {
  const impl = o.impl as (...args: Value[]) => Value;
  const call = (args: CelValue[]) => toInterpreter(impl(...args.map(fromInterpreter)));
  const args = o.args.map((t) => TYPES[t]);
  if (o.receiver) {
    return celMethod(o.name, TYPES[o.receiver], args, TYPES[o.result], function (this: CelValue, ...rest: CelValue[]) {
      return call([this, ...rest]);
    } as never);
  }
  return celFunc(o.name, args, TYPES[o.result], ((...rest: CelValue[]) => call(rest)) as never);
}

let adapted: readonly CelFunc[] | undefined;

/** The library as @bufbuild/cel functions, for the interpreter path (built on first use: the modules import each other). */
export function interpreterFunctions(): readonly CelFunc[] {
  return (adapted ??= LIBRARY.map(adapt));
}
