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
