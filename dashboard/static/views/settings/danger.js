// Deleting the project, for admins: confirmed by typing its name, then back to the list.

import { ApiError, del } from '../../api.js';
import { field, form, h, section, toast } from '../../ui.js';
import { go } from '../../app.js';

export function dangerSection(project) {
  const remove = form({ class: 'card danger-zone', 'aria-label': 'Delete the project' }, [
    h('p', {}, 'Deleting the project stops serving its URLs and custom domains at once, '
      + 'frees its name and domains, and removes its builds. It cannot be undone.'),
    field(`Type ${project.name} to confirm`, 'confirm', { required: true, autocomplete: 'off',
      spellcheck: 'false' }),
  ], async (values) => {
    if (values.confirm !== project.name) {
      throw new ApiError(0, 'the name does not match', [{ field: 'confirm',
        message: `Type the project's name, ${project.name}, exactly` }]);
    }
    await del(`/v1/projects/${project.id}`);
    toast(`${project.name} deleted`);
    go('/');
  }, 'Delete project');
  remove.querySelector('button[type=submit]').classList.add('danger');
  return section('Danger zone', remove);
}
