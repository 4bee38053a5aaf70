import { describe, expect, it } from 'vitest';
import { dominioDe, messageIdFor } from './message-id.js';

describe('message id of an e-mail', () => {
  it('takes the domain of the sender in either form', () => {
    expect(dominioDe('Facultad de Ciencias Económicas - UNRC <no-reply@V.eco.unrc.edu.ar>')).toBe(
      'v.eco.unrc.edu.ar',
    );
    expect(dominioDe('ingreso@fce.unrc.edu.ar')).toBe('fce.unrc.edu.ar');
    expect(dominioDe('sin dominio')).toBe('lucy.invalid');
  });

  it('is the same for the same Tarea and different for another', () => {
    const a = messageIdFor('0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 'v.eco.unrc.edu.ar');
    expect(a).toBe('<tarea-0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b@v.eco.unrc.edu.ar>');
    expect(messageIdFor('0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b', 'v.eco.unrc.edu.ar')).toBe(a);
    expect(messageIdFor('otra', 'v.eco.unrc.edu.ar')).not.toBe(a);
    expect(messageIdFor('a b<c>@d', 'x.org')).toBe('<tarea-a-b-c--d@x.org>');
  });
});
