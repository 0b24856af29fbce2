// Entry of the single-file cldc that scripts/device-kit.sh bundles for a machine with no
// Node toolchain (the GPU machine): the same CLI as bin/cldc.js, without tsx.
import { main } from "../cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
