export * from '../../harness/tcp-proxy.js';
