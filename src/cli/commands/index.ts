/** Every verb's registration, in help order. Each module is light: heavy imports are in actions. */
import type { Register } from '../main.js';
import { register as dev } from './dev.js';
import { register as config } from './config.js';

export const COMMANDS: Register[] = [dev, config];
