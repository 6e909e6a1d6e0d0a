import { celEnv, CelScalar, type CelEnv } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { flatListFunctions } from "./flat-list.js";
import { interpreterFunctions } from "./interpreter-library.js";
import { meteredFunctions } from "./metering.js";
import { regex } from "./regex.js";
import { registry } from "./types.js";

const environments = new Map<string, CelEnv>();

/** The interpreter's environment for expressions over these top-level names (all typed dyn). */
export function environment(roots: readonly string[]): CelEnv {
  const key = roots.join(",");
  let env = environments.get(key);
  if (!env) {
    env = celEnv({
      registry,
      // Every function charges the request's budget (metering.ts): the interpreter's loops have no other hook.
      funcs: meteredFunctions([...strings, ...interpreterFunctions(), ...flatListFunctions]),
      variables: Object.fromEntries(roots.map((n) => [n, CelScalar.DYN])),
      re2: { compile: regex },
    });
    environments.set(key, env);
  }
  return env;
}
