export * from '../../harness/redis-server.js';
