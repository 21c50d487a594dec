import type { Register } from '../main.js';
export const register: Register = (program) => {
  program.command('dev').description('run the whole stack on this machine (not yet written)');
};
