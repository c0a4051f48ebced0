/** @jest-environment jsdom */
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { DataSource } from '../datasource';
import { VALUE_LISTS, VALUE_LIST_INFO, type NetwatchVariableQuery } from '../types';
import { VariableQueryEditor } from './VariableQueryEditor';

function renderVariableEditor(query: unknown) {
  const onChange = jest.fn<void, [NetwatchVariableQuery]>();
  render(<VariableQueryEditor query={query as NetwatchVariableQuery} datasource={{} as DataSource} onChange={onChange} onRunQuery={() => {}} />);
  return { onChange, user: userEvent.setup({ delay: null }) };
}

describe('VariableQueryEditor', () => {
  it('offers every value list with what it holds, and stores the pick', async () => {
    const { user, onChange } = renderVariableEditor({ refId: 'V', list: 'targets' });
    await user.click(screen.getByLabelText('Values'));
    await user.keyboard('{ArrowDown}');
    const menu = await screen.findByRole('listbox');
    expect(within(menu).getAllByRole('option').map((o) => o.textContent)).toEqual(VALUE_LISTS.map((l) => `${l}${VALUE_LIST_INFO[l]}`));
    await user.click(within(menu).getByText('top_talkers', { exact: true }));
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'V', list: 'top_talkers' });
  });

  it.each<[unknown, string]>([
    [{ refId: 'V', list: 'log_sources' }, 'log_sources'],
    ['interfaces', 'interfaces'],
    [undefined, 'targets'],
  ])('shows the stored list of %j', (query, shown) => {
    renderVariableEditor(query);
    expect(screen.getByText(shown, { exact: true })).toBeInTheDocument();
  });
});
