// pdfjs-dist ships its parser module without types; ingestion only hands it to pdfjs as a whole.
declare module 'pdfjs-dist/legacy/build/pdf.worker.mjs';
