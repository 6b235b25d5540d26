// The execution devices a session may be asked for. `auto` tries CUDA and falls back to CPU.
export const DEVICES = ['cpu', 'cuda', 'auto'] as const;
export type DeviceChoice = (typeof DEVICES)[number];
export type Device = Exclude<DeviceChoice, 'auto'>;
