// .proto files are imported as their text: esbuild's text loader in the build, a transform under jest.
declare module '*.proto' {
  const text: string;
  export default text;
}
