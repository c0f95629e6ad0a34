// Where the .proto sources and the protoc-built descriptor set live, from both src/ (tests) and dist/ (runtime).
import { fileURLToPath } from 'node:url';

export const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url));
export const DESCRIPTOR_SET_PATH = fileURLToPath(new URL('../proto/descriptor-set.binpb', import.meta.url));
