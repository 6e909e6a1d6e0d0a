/**
 * A VirtualMachine that needs the CRD's defaults (no osType, no bootloader) and has 300 cores: the
 * installed package and the image must both default it and deny it (`cores: 300` is line 9).
 */
export const VM_300 = `apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualMachine
metadata:
  name: big
  namespace: tenant-a
spec:
  virtualMachineClassName: generic
  cpu:
    cores: 300
    coreFraction: 100%
  memory:
    size: 8Gi
  blockDeviceRefs:
    - kind: VirtualDisk
      name: big-root
`;

/** A VirtualMachineClass (v1alpha3, Host CPU) with one sizing policy: 1 to `maxCores` cores at the given fractions, memory per core bounded when `memoryPerCore` is given. */
export function vmClassYaml(name: string, sizing: { maxCores: number; coreFractions: string[]; memoryPerCore?: { min: string; max: string } }): string {
  const memory = sizing.memoryPerCore
    ? `      memory:
        perCore:
          min: ${sizing.memoryPerCore.min}
          max: ${sizing.memoryPerCore.max}
`
    : "";
  return `apiVersion: virtualization.deckhouse.io/v1alpha3
kind: VirtualMachineClass
metadata:
  name: ${name}
spec:
  cpu:
    type: Host
  sizingPolicies:
    - cores:
        min: 1
        max: ${sizing.maxCores}
${memory}      coreFractions: [${sizing.coreFractions.map((f) => `"${f}"`).join(", ")}]
`;
}

/** The virtualization ModuleConfig with the given virtualMachineCIDRs and DVCR on a 50G linstor-thin-r1 volume. */
export function moduleConfigYaml(cidrs: string[]): string {
  return `apiVersion: deckhouse.io/v1alpha1
kind: ModuleConfig
metadata:
  name: virtualization
spec:
  enabled: true
  version: 1
  settings:
    virtualMachineCIDRs: [${cidrs.join(", ")}]
    dvcr: {storage: {type: PersistentVolumeClaim, persistentVolumeClaim: {size: 50G, storageClassName: linstor-thin-r1}}}
`;
}
