import { Migration20261128000000_init } from './migrations/Migration20261128000000_init.js';
import { Migration20261128120000_search } from './migrations/Migration20261128120000_search.js';
import { Migration20261207000000_exact } from './migrations/Migration20261207000000_exact.js';
import { Migration20261207060000_trace } from './migrations/Migration20261207060000_trace.js';
import { Migration20261207100000_periodic_task } from './migrations/Migration20261207100000_periodic_task.js';
import { Migration20261208000000_search_narrow } from './migrations/Migration20261208000000_search_narrow.js';
import { LogSchema } from './log.entity.js';
import { TareaSchema } from './tarea.entity.js';

/** The ORM settings of task-tracker: its schema, entities and reviewed migrations. */
export const trackerOrm = {
  schema: 'tracker',
  entities: [TareaSchema, LogSchema],
  migrations: [
    { name: 'Migration20261128000000_init', class: Migration20261128000000_init },
    { name: 'Migration20261128120000_search', class: Migration20261128120000_search },
    { name: 'Migration20261207000000_exact', class: Migration20261207000000_exact },
    { name: 'Migration20261207060000_trace', class: Migration20261207060000_trace },
    { name: 'Migration20261207100000_periodic_task', class: Migration20261207100000_periodic_task },
    { name: 'Migration20261208000000_search_narrow', class: Migration20261208000000_search_narrow },
  ],
};
