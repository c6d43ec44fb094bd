// Local label allocation for the LDP speaker: the lowest free label of a configured range, so
// LDP's labels never collide with a static plan that uses another range.
import { MAX_LABEL } from './constants.js';

export class LabelAllocator {
  private readonly used = new Set<number>();
  private readonly held = new Set<number>();
  private hint: number;

  constructor(
    readonly min = 16,
    readonly max = MAX_LABEL,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 16 || max > MAX_LABEL || min > max) throw new RangeError(`label range ${min}..${max} must lie within 16..${MAX_LABEL}`);
    this.hint = min;
  }

  /** a free label, or undefined when the range is exhausted */
  allocate(): number | undefined {
    const size = this.max - this.min + 1;
    if (this.used.size >= size) return undefined;
    for (let i = 0; i < size; i++) {
      const l = this.min + ((this.hint - this.min + i) % size);
      if (!this.used.has(l) && !this.held.has(l)) {
        this.used.add(l);
        this.hint = l + 1 > this.max ? this.min : l + 1;
        return l;
      }
    }
    return undefined;
  }

  /** Takes one given label if it is in the range and free (a FEC's label from before a restart). */
  take(label: number): boolean {
    if (!Number.isInteger(label) || label < this.min || label > this.max || this.used.has(label)) return false;
    this.used.add(label);
    return true;
  }

  /** Keeps labels from being handed out (labels still installed from before a restart). */
  hold(labels: Iterable<number>): void {
    for (const l of labels) if (l >= this.min && l <= this.max) this.held.add(l);
  }

  /** Lets held labels be handed out again. */
  unhold(): void {
    this.held.clear();
  }

  free(label: number): void {
    if (this.used.delete(label) && label < this.hint) this.hint = label;
  }

  get inUse(): number {
    return this.used.size;
  }
}
