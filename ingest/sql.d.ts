// .sql files are bundled as text by esbuild and by the jest transform in jest.sql-transform.js.
declare module '*.sql' {
  const text: string;
  export default text;
}
