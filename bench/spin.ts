/**
 * @module A CPU spinner for the control rounds of `bench/me.ts`: pure computation in registers, no memory
 * traffic, no system calls, until it is killed. The bench starts it at SCHED_IDLE on the server's core.
 */
let x = 1;
for (;;) {
  for (let i = 0; i < 10_000_000; i++) x = (x * 1_103_515_245 + 12_345) | 0;
  if (x === 0) console.log(x); // keeps the loop from being optimised away
}
