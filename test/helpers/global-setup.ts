import '../helpers/safe-env';

export default function setup(): void {
  // Nothing global yet: each suite starts its own servers on ports chosen at run time.
}
