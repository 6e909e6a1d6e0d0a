/**
 * Regular expressions of `matches()`, `find()` and `findAll()`, compiled once per pattern:
 * patterns in policies are constants. The bound keeps patterns taken from objects in check.
 */
const compiled = new Map<string, RegExp>();

export function regex(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(pattern, "u");
    if (compiled.size >= 512) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}
