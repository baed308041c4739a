import { fairStage } from '../../routing/scheduler/policies/fair.js';
const f = fairStage();
const w = (stage: string, n: number) => ({ stage, waiting: Array.from({ length: n }, (_, i) => ({ seq: i } as any)), weight: 1 });
let d = 4, r = 1; const order: string[] = [];
while (d + r > 0) { const views = [...(d ? [w('default', d)] : []), ...(r ? [w('reply', r)] : [])]; const i = f.pick(views, {} as any); const s = views[i]!.stage; order.push(s); if (s === 'default') d--; else r--; }
console.log(order);
