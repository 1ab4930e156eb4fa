/** Entry point: the studio on top of the engine running in a Web Worker (all compute off the main thread). */
import { createWorkerEngine } from './worker/client.ts';
import { startStudio } from './ui/bootstrap.tsx';

const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks #root');
void startStudio(root, createWorkerEngine);
