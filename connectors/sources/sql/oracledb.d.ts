/** oracledb ships no type declarations; the extract declares the slice it uses in oracle.extract.ts. */
declare module 'oracledb' {
  const oracledb: unknown;
  export default oracledb;
}
