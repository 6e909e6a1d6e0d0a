import { celEnv } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { interpreterFunctions } from "../cel/interpreter-library.js";
import { registry } from "../cel/types.js";
import type { JsonObject, PolicyDocument, TargetSpec } from "../types.js";
import { TypeChecker } from "./checker.js";
import { typeOfKindVersion, typeOfSchema, type KindSchema } from "./schema.js";
import { BOOL, DYN, join, list, object, STRING, type CheckType } from "./types.js";

/** The same functions policies are compiled with: what a call may name. */
export const typeChecker = new TypeChecker(celEnv({ registry, funcs: [...strings, ...interpreterFunctions()] }));

const STRING_LIST = list(STRING);
const GVK = object("request.kind", { group: STRING, version: STRING, kind: STRING });
const GVR = object("request.resource", { group: STRING, version: STRING, resource: STRING });

/** admission.k8s.io/v1 AdmissionRequest without object and oldObject, as policies see `request`. */
const REQUEST = object("request", {
  uid: STRING,
  kind: GVK,
  resource: GVR,
  subResource: STRING,
  requestKind: GVK,
  requestResource: GVR,
  requestSubResource: STRING,
  name: STRING,
  namespace: STRING,
  operation: STRING,
  userInfo: object("request.userInfo", { username: STRING, uid: STRING, groups: STRING_LIST, extra: { kind: "map", value: STRING_LIST } }),
  dryRun: BOOL,
  options: DYN,
});

/** The types of the objects of every kind the schemas describe, by apiGroup and plural resource or kind. */
export class KindTypes {
  private readonly byResource = new Map<string, CheckType>();
  private readonly byKind = new Map<string, CheckType>();

  constructor(schemas: readonly KindSchema[]) {
    for (const k of schemas) {
      // A rule with apiVersions "*" may see any served version: a field is known if one declares it.
      let t: CheckType | undefined;
      for (const v of k.versions) {
        const vt = typeOfKindVersion(v.schema);
        t = t ? join(t, vt) : vt;
      }
      if (!t) continue;
      this.byResource.set(`${k.group}/${k.resource}`, t);
      this.byKind.set(`${k.group}/${k.kind}`, t);
    }
  }

  /** The type of `object` for a policy: the union of the kinds its rules match, dyn if any is unknown. */
  matched(doc: PolicyDocument): CheckType {
    let t: CheckType | undefined;
    for (const rule of doc.spec.match.resourceRules) {
      for (const group of rule.apiGroups) {
        for (const resource of rule.resources) {
          const known = this.byResource.get(`${group}/${resource.split("/")[0]}`);
          if (!known || resource.includes("/")) return DYN;
          t = t ? join(t, known) : known;
        }
      }
    }
    return t ?? DYN;
  }

  /** The type of a looked-up object of this kind (dyn for kinds no schema describes). */
  of(target: TargetSpec): CheckType {
    const slash = target.apiVersion.lastIndexOf("/");
    return this.byKind.get(`${slash < 0 ? "" : target.apiVersion.slice(0, slash)}/${target.kind}`) ?? DYN;
  }
}

export interface ParameterType {
  name: string;
  schema?: JsonObject;
}

/** The names every policy expression starts from, typed. `variables` grows as the policy declares them. */
export function rootTypes(object: CheckType, params: readonly ParameterType[]): Map<string, CheckType> {
  const paramFields = new Map<string, CheckType>();
  for (const p of params) paramFields.set(p.name, p.schema ? typeOfSchema(p.schema, `params.${p.name}`) : DYN);
  return new Map<string, CheckType>([
    ["object", object],
    ["oldObject", object],
    ["request", REQUEST],
    ["params", { kind: "object", name: "params", fields: paramFields, open: false }],
    ["namespaceObject", DYN],
    ["variables", { kind: "object", name: "variables", fields: new Map(), open: false }],
  ]);
}

/** Adds a variable's type to the scope later expressions see. */
export function withVariable(scope: Map<string, CheckType>, name: string, t: CheckType): void {
  const current = scope.get("variables");
  const fields = new Map(current?.kind === "object" ? current.fields : []);
  fields.set(name, t);
  scope.set("variables", { kind: "object", name: "variables", fields, open: false });
}

