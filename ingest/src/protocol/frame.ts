/**
 * Grafana's data frame JSON, as the query protocol returns it and the plugin backend turns into Arrow.
 * Columnar: `data.values[i]` holds the values of `schema.fields[i]`. Times are epoch milliseconds.
 */
import { Type, type Static } from '@sinclair/typebox';

export const FieldType = Type.Union([Type.Literal('time'), Type.Literal('number'), Type.Literal('string'), Type.Literal('boolean')]);
export type FieldType = Static<typeof FieldType>;

export const FieldSchema = Type.Object({
  name: Type.String(),
  type: FieldType,
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type FieldSchema = Static<typeof FieldSchema>;

export const FrameSchema = Type.Object({
  schema: Type.Object({
    name: Type.Optional(Type.String()),
    refId: Type.String(),
    meta: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    fields: Type.Array(FieldSchema),
  }),
  data: Type.Object({ values: Type.Array(Type.Array(Type.Unknown())) }),
});
export type Frame = Static<typeof FrameSchema>;

export type FieldValue = number | string | boolean | null;

/** A column under construction: its schema and its values. */
export interface Column {
  name: string;
  type: FieldType;
  values: FieldValue[];
  labels?: Record<string, string>;
  config?: Record<string, unknown>;
}

/** Assembles a frame from columns; the refId is filled in by the query dispatcher. */
export function frame(name: string | undefined, columns: Column[], meta?: Record<string, unknown>): Frame {
  const schema: Frame['schema'] = {
    refId: '',
    fields: columns.map((c) => {
      const f: FieldSchema = { name: c.name, type: c.type };
      if (c.labels && Object.keys(c.labels).length > 0) f.labels = c.labels;
      if (c.config) f.config = c.config;
      return f;
    }),
  };
  if (name !== undefined) schema.name = name;
  if (meta) schema.meta = meta;
  return { schema, data: { values: columns.map((c) => c.values) } };
}

export function column(name: string, type: FieldType, values: FieldValue[] = [], extra?: Pick<Column, 'labels' | 'config'>): Column {
  return { name, type, values, ...extra };
}
