import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { compileExpression } from "../../src/engine/cel/compile.js";
import { toJson } from "../../src/engine/cel/codegen/values.js";
import type { JsonValue } from "../../src/engine/index.js";

function run(expr: string): JsonValue | Error {
  const value = compileExpression(expr).evaluate({});
  return value instanceof Error ? value : (toJson(value) as JsonValue);
}

/** [expression, expected value, or Error for "evaluation fails"] — from the Kubernetes CEL library documentation. */
type Example = [string, JsonValue | typeof Error];

function examples(title: string, cases: Example[]): void {
  describe(title, () => {
    for (const [expr, expected] of cases) {
      test(expr, () => {
        const got = run(expr);
        if (expected === Error) assert.ok(got instanceof Error, `expected an error, got ${JSON.stringify(got)}`);
        else assert.deepEqual(got, expected);
      });
    }
  });
}

examples("Kubernetes quantity library", [
  ["isQuantity('1.5G')", true],
  // "E" alone is exa, not an empty exponent.
  ["quantity('2E') == quantity('2000P')", true],
  ["quantity('2E').isGreaterThan(quantity('1024Gi'))", true],
  ["quantity('2e3') == quantity('2k')", true],
  ["quantity('1e400').isGreaterThan(quantity('99999999999999999999999Ei'))", true],
  ["isQuantity('1e400Gi')", false],
  ["quantityValue('1e30')", Error],
  ["quantityValue('lots')", Error],
  ["quantity('200k').compareTo(quantity('200000'))", 0],
  ["quantity('200K')", Error],
  ["quantity('Three')", Error],
  ["quantity('Mi')", Error],
  ["isQuantity('1.3G')", true],
  ["isQuantity('1.3Gi')", true],
  ["isQuantity('1,3G')", false],
  ["isQuantity('10000k')", true],
  ["isQuantity('200K')", false],
  ["isQuantity('Three')", false],
  ["isQuantity('Mi')", false],
  ["quantity('50000000G').isInteger()", true],
  ["quantity('50k').isInteger()", true],
  ["quantity('9999999999999999999999999999999999999G').asInteger()", Error],
  ["quantity('9999999999999999999999999999999999999G').isInteger()", false],
  ["quantity('50k').asInteger() == 50000", true],
  ["quantity('50k').sub(20000).asApproximateFloat() == 30000.0", true],
  ["quantity('50k').add(quantity('20k')) == quantity('70k')", true],
  ["quantity('50k').add(20) == quantity('50020')", true],
  ["quantity('50k').sub(quantity('20k')) == quantity('30k')", true],
  ["quantity('50k').sub(20000) == quantity('30k')", true],
  ["quantity('50k').add(20).sub(quantity('100k')).sub(-50000) == quantity('20')", true],
  ["quantity('200M').compareTo(quantity('0.2G'))", 0],
  ["quantity('50M').compareTo(quantity('50Mi'))", -1],
  ["quantity('50Mi').compareTo(quantity('50M'))", 1],
  ["quantity('150Mi').isGreaterThan(quantity('100Mi'))", true],
  ["quantity('50Mi').isGreaterThan(quantity('100Mi'))", false],
  ["quantity('50M').isLessThan(quantity('100M'))", true],
  ["quantity('100M').isLessThan(quantity('50M'))", false],
  ["quantity('-5').sign()", -1],
  ["quantity('0').sign()", 0],
  ["quantity('1Gi').mul(3) == quantity('3Gi')", true],
  ["quantity('10Gi').divInt(3).asInteger()", 3579139413],
  // virtguard's string(): the form kubectl prints, so messages show sizes users recognise.
  ["string(quantity('1536Mi'))", "1536Mi"],
  ["string(quantity('2147483648'))", "2Gi"],
  ["string(quantity('50G'))", "50G"],
  ["string(quantity('1000Mi'))", "1000Mi"],
  ["string(quantity('0.5'))", "500m"],
  ["quantity('1Gi') == quantity('1024Mi')", true],
]);

examples("Kubernetes IP library", [
  ["string(ip('127.0.0.1'))", "127.0.0.1"],
  ["ip('::1').family()", 6],
  ["ip('127.0.0.256')", Error],
  ["ip(':::1')", Error],
  ["ip('::ffff:1.2.3.4')", Error],
  ["ip('fe80::1%eth0')", Error],
  ["ip('127.0.0.01')", Error],
  ["isIP('127.0.0.1')", true],
  ["isIP('::1')", true],
  ["isIP('127.0.0.256')", false],
  ["isIP(':::1')", false],
  ["ip.isCanonical('127.0.0.1')", true],
  ["ip.isCanonical('2001:db8::abcd')", true],
  ["ip.isCanonical('2001:DB8::ABCD')", false],
  ["ip.isCanonical('2001:db8::0:0:0:abcd')", false],
  ["ip('127.0.0.1').family() == 4", true],
  ["ip('::1').family() == 6", true],
  ["ip('0.0.0.0').isUnspecified()", true],
  ["ip('127.0.0.1').isUnspecified()", false],
  ["ip('::').isUnspecified()", true],
  ["ip('::1').isUnspecified()", false],
  ["ip('127.0.0.1').isLoopback()", true],
  ["ip('192.168.0.1').isLoopback()", false],
  ["ip('::1').isLoopback()", true],
  ["ip('2001:db8::abcd').isLoopback()", false],
  ["ip('224.0.0.1').isLinkLocalMulticast()", true],
  ["ip('224.0.1.1').isLinkLocalMulticast()", false],
  ["ip('ff02::1').isLinkLocalMulticast()", true],
  ["ip('fd00::1').isLinkLocalMulticast()", false],
  ["ip('169.254.169.254').isLinkLocalUnicast()", true],
  ["ip('192.168.0.1').isLinkLocalUnicast()", false],
  ["ip('fe80::1').isLinkLocalUnicast()", true],
  ["ip('fd80::1').isLinkLocalUnicast()", false],
  ["ip('192.168.0.1').isGlobalUnicast()", true],
  ["ip('255.255.255.255').isGlobalUnicast()", false],
  ["ip('2001:db8::abcd').isGlobalUnicast()", true],
  ["ip('ff00::1').isGlobalUnicast()", false],
  ["ip('10.0.0.1') == ip('10.0.0.1')", true],
  ["ip('2001:db8::1') == ip('2001:DB8:0::1')", true],
]);

examples("Kubernetes CIDR library", [
  ["string(cidr('192.168.0.0/16'))", "192.168.0.0/16"],
  ["cidr('::1/128').prefixLength()", 128],
  ["cidr('192.168.0.0/33')", Error],
  ["cidr('::1/129')", Error],
  ["cidr('10.0.0.0')", Error],
  ["isCIDR('192.168.0.0/16')", true],
  ["isCIDR('::1/128')", true],
  ["isCIDR('192.168.0.0/33')", false],
  ["isCIDR('::1/129')", false],
  ["cidr('192.168.0.0/24').containsIP(ip('192.168.0.1'))", true],
  ["cidr('192.168.0.0/24').containsIP(ip('192.168.1.1'))", false],
  ["cidr('192.168.0.0/24').containsIP('192.168.0.1')", true],
  ["cidr('192.168.0.0/24').containsIP('192.168.1.1')", false],
  ["cidr('192.168.0.0/16').containsCIDR(cidr('192.168.10.0/24'))", true],
  ["cidr('192.168.1.0/24').containsCIDR(cidr('192.168.2.0/24'))", false],
  ["cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24')", true],
  ["cidr('192.168.1.0/24').containsCIDR('192.168.2.0/24')", false],
  ["cidr('192.168.0.1/24').ip() == ip('192.168.0.1')", true],
  ["cidr('192.168.0.1/24').ip().family()", 4],
  ["cidr('::1/128').ip() == ip('::1')", true],
  ["cidr('::1/128').ip().family()", 6],
  ["cidr('192.168.0.0/24').masked() == cidr('192.168.0.0/24')", true],
  ["cidr('192.168.0.1/24').masked() == cidr('192.168.0.0/24')", true],
  ["cidr('192.168.0.0/24') == cidr('192.168.0.0/24').masked()", true],
  ["cidr('192.168.0.1/24') == cidr('192.168.0.1/24').masked()", false],
  ["cidr('192.168.0.0/16').prefixLength()", 16],
  ["cidr('10.0.0.0/8').containsIP('2001:db8::1')", false],
  // virtguard's overlap test: shared addresses in either direction, nesting included.
  ["cidr('10.0.0.0/8').overlaps('10.1.0.0/16')", true],
  ["cidr('10.1.0.0/16').overlaps(cidr('10.0.0.0/8'))", true],
  ["cidr('10.0.0.0/24').overlaps('10.0.1.0/24')", false],
  ["cidr('10.0.0.0/23').overlaps('10.0.1.0/24')", true],
  ["cidr('10.0.0.0/8').overlaps('fd00::/8')", false],
]);

examples("Kubernetes lists library and CEL lists extension", [
  ["[1, 2, 3].isSorted()", true],
  ["['a', 'b', 'b', 'c'].isSorted()", true],
  ["[2.0, 1.0].isSorted()", false],
  ["[1, 2, 3].sum()", 6],
  ["[1.0, 2.0, 3.0].sum()", 6],
  ["[].sum()", 0],
  ["[1, 2, 3].min()", 1],
  ["[].min()", Error],
  ["[1, 2, 3].max()", 3],
  ["['b', 'a'].max()", "b"],
  ["[1, 2, 2, 3].indexOf(2)", 1],
  ["['a', 'b', 'b', 'c'].lastIndexOf('b')", 2],
  ["[1, 2, 3].indexOf(4)", -1],
  ["[1, 2, 3, 4].slice(1, 3)", [2, 3]],
  ["[1, 2, 3].slice(2, 5)", Error],
  ["[[1, 2], [3], 4].flatten()", [1, 2, 3, 4]],
  ["[1, 2, 2, 3, 1].distinct()", [1, 2, 3]],
]);

examples("Kubernetes regex library", [
  ["'abc 123'.find('[0-9]+')", "123"],
  ["'abc'.find('[0-9]+')", ""],
  ["'123 abc 456'.findAll('[0-9]+')", ["123", "456"]],
  ["'123 abc 456'.findAll('[0-9]+', 1)", ["123"]],
  ["'123 abc 456'.findAll('xyz')", []],
]);

examples("strings extension", [
  ["'hello'.charAt(1)", "e"],
  ["'hello mellow'.indexOf('ello')", 1],
  ["'hello mellow'.lastIndexOf('ello')", 7],
  ["'TacoCat'.lowerAscii()", "tacocat"],
  ["'TacoCat'.upperAscii()", "TACOCAT"],
  ["'hello hello'.replace('he', 'we')", "wello wello"],
  ["'hello hello'.replace('he', 'we', 1)", "wello hello"],
  ["'hello hello hello'.split(' ')", ["hello", "hello", "hello"]],
  ["'tacocat'.substring(4)", "cat"],
  ["'tacocat'.substring(0, 4)", "taco"],
  ["'  \\ttrim\\n    '.trim()", "trim"],
  ["['hello', 'mellow'].join(', ')", "hello, mellow"],
  ["'ip-10-66-10-23'.substring(3).replace('-', '.')", "10.66.10.23"],
]);

describe("JSON numbers are CEL ints, as Kubernetes' typed fields are", () => {
  test("an integral number supports int arithmetic such as %, a fraction stays a double", () => {
    const expr = compileExpression("object.spec.cores % 8 == 1 && object.spec.ratio == 0.5");
    assert.equal(expr.evaluate({ object: { spec: { cores: 249, ratio: 0.5 } } }), true);
  });
});
