/** @jest-environment jsdom */
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { DataSource } from '../datasource';
import type { NetwatchQuery } from '../types';
import { AnnotationQueryEditor } from './AnnotationQueryEditor';

describe('AnnotationQueryEditor', () => {
  it('edits an annotations query even when the stored target is empty', async () => {
    const onChange = jest.fn<void, [NetwatchQuery]>();
    render(<AnnotationQueryEditor query={{ refId: 'Anno' } as NetwatchQuery} datasource={{} as DataSource} onChange={onChange} onRunQuery={() => {}} />);
    expect(screen.getByTestId('netwatch-kind-description')).toHaveTextContent('Bans, unbans and detected patterns as annotation events');
    const user = userEvent.setup({ delay: null });
    await user.type(screen.getByLabelText('Source'), 'fail2ban{Enter}');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'Anno', kind: 'annotations', limit: 1000, source: ['fail2ban'] });
  });
});
