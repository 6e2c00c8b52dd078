// Ambient typing for a decoder library that ships none (only the default export kimg uses).
declare module 'unbzip2-stream' {
  const unbzip2Stream: () => import('node:stream').Duplex;
  export default unbzip2Stream;
}
